"""Documents and multi-site document sync (capability 2).

documents.py is the service other capabilities call (documents, versions,
files); store.py keeps the files, content-addressed; sites.py the remote
sites; remote.py talks to another Forgeline over its public API; sync.py
plans and runs push and pull jobs (jobs.py on the `sync` queue).
"""
