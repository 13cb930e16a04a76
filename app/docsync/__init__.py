"""Documents and multi-site document sync.

documents.py is the service other capabilities call (documents, versions,
files); store.py keeps the files, content-addressed; sites.py the remote
sites; remote.py talks to another Forgeline over its public API; sync.py
plans and runs push and pull jobs (jobs.py on the `sync` queue).
"""

from app.core.auth.roles import OPERATOR
from app.core.capability import ENGINEERING, OPERATIONS, Access, Capability, NavEntry

CAPABILITY = Capability(
    "docsync",
    nav=(
        NavEntry("Documents", "docsync.documents_page", order=50, group=ENGINEERING),
        NavEntry("Sites & sync", "docsync.sites_page", OPERATOR, order=51, group=OPERATIONS),
    ),
    # sync jobs are operators' pages: the topic `doc-sync:<id>` and the job history's link
    access=(
        Access("doc-sync", OPERATOR),
        Access("doc_sync_job", OPERATOR, page="docsync.job", page_arg="job_id"),
        Access("remote_site", OPERATOR, page="docsync.site", page_arg="site_id"),
        Access("document", page="docsync.document", page_arg="document_id"),
    ),
    queues=("sync",),
    queue_priority=10,
    sweep="app.docsync.sync.sweep",
)
