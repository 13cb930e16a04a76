from tests.docsync.conftest import document_store  # noqa: F401 - each test its own file store (autouse)
