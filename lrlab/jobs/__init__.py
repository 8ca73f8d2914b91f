"""Long work off the UI: a job store shared by the app and workers, and the worker that runs jobs.

The store (`lrlab.store`) is the only thing the Streamlit pages and the workers share. A worker
(`lrlab.jobs.worker`) claims queued jobs and runs each in a freshly spawned child process, which
streams its metrics back into the store for the pages to poll.
"""
