"""jupyter-scheduler's jobs run through papermill and recorded in the store."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

from jupyter_scheduler.executors import ExecutionManager
from jupyter_scheduler.models import JobFeature, Status
from jupyter_scheduler.orm import Job, JobDefinition
from jupyter_scheduler.utils import get_utc_timestamp

from nexus_lab import config
from nexus_lab.runs._cron import next_run
from nexus_lab.runs._notebook import NotebookRunError, execute_and_record, parse_parameter

log = logging.getLogger("nexus_lab")

# What NEXUS Lab keeps in a job definition's runtime_environment_parameters, beside the
# environment's own: the notebook's path under the root folder (the staged copy
# jupyter-scheduler runs has lost its folder), who its runs act as, and the store they
# are recorded in when it is not the server's default (NEXUS_LAB_STORE).
NOTEBOOK_KEY, ACTOR_KEY, STORE_KEY = "nexus_lab_notebook", "nexus_lab_actor", "nexus_lab_store"


class PapermillExecutionManager(ExecutionManager):
    """Runs jupyter-scheduler's jobs with papermill, recording each in the store.

    The job's parameters are papermill parameters: their text is read as papermill's
    ``-p`` reads it (:func:`nexus_lab.runs.parse_parameter`), so ``3`` is a number and
    ``fraud`` is text, and a name the notebook's ``parameters`` cell does not set fails
    the job with the notebook's parameters listed. The run is the same as
    :func:`nexus_lab.runs.run_notebook`'s, with the job's id as its run id and its job
    definition as its schedule: the outputs go to ``runs/<job id>/`` in the data
    folder, and are copied to the staging paths jupyter-scheduler gives (``ipynb``,
    ``html``, and any other format nbconvert exports), where JupyterLab's job list
    finds them; a failed job keeps its partial notebook there too.

    A notebook scheduled with ``nexus-lab schedule add`` runs in its own folder under
    the Jupyter root, so its relative paths hold; one scheduled from JupyterLab's dialog
    runs in its staging folder, as jupyter-scheduler's own executor runs it.
    """

    def execute(self) -> None:
        job = self.model
        extra = dict(job.runtime_environment_parameters or {})
        original = extra.get(NOTEBOOK_KEY)
        folder = Path(self.root_dir, original).parent if original else None
        source = Path(self.staging_paths["input"])
        params = {k: parse_parameter(v) for k, v in (job.parameters or {}).items()}
        coming = self._next_run(job.job_definition_id)
        out = config.data_folder() / "runs" / job.job_id
        name = str(Path(self.root_dir, original)) if original else job.input_filename
        cwd = folder if folder is not None and folder.is_dir() else source.parent
        try:
            run = execute_and_record(source, params, notebook=name, out=out, run_id=job.job_id,
                                     store=extra.get(STORE_KEY), cwd=cwd,
                                     schedule_id=job.job_definition_id,
                                     actor=extra.get(ACTOR_KEY), next_run=coming)
        except NotebookRunError as err:
            self._stage(job, err.output_notebook)
            raise
        self._stage(job, run.output_notebook, run.output_html)

    def _next_run(self, definition_id: str | None) -> Any:
        if not definition_id:
            return None
        with self.db_session() as session:
            found = session.query(JobDefinition.schedule, JobDefinition.timezone).filter(
                JobDefinition.job_definition_id == definition_id).first()
        return next_run(found[0], found[1]) if found and found[0] else None

    def _stage(self, job: Any, notebook: Path | None, html: Path | None = None) -> None:
        """The outputs where jupyter-scheduler looks for them."""
        if notebook is None or not notebook.exists():
            return
        html = html or notebook.with_suffix(".html")
        for fmt in job.output_formats or []:
            target = self.staging_paths.get(fmt)
            if target is None or fmt == "input":
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if fmt == "ipynb":
                shutil.copyfile(notebook, target)
            elif fmt == "html" and html.exists():
                shutil.copyfile(html, target)
            else:
                try:
                    _export(notebook, fmt, target)
                except Exception as err:  # the run itself stands: only this copy is missing
                    log.warning("could not export job %s as %s: %s", job.job_id, fmt, err)

    def on_failure(self, e: Exception) -> None:
        """The job failed: its status and message, and the time it ended."""
        with self.db_session() as session:
            session.query(Job).filter(Job.job_id == self.job_id).update(
                {"status": Status.FAILED, "status_message": str(e)[:1024],
                 "end_time": get_utc_timestamp()})
            session.commit()
        log.error("job %s failed: %s", self.job_id, e)

    def supported_features(self) -> dict[JobFeature, bool]:
        """What JupyterLab's job dialog offers: names, parameters, output formats,
        schedules, stopping and deleting jobs (jupyter-scheduler calls this on the class,
        passing the class as ``self``)."""
        return {
            JobFeature.job_name: True,
            JobFeature.parameters: True,
            JobFeature.output_formats: True,
            JobFeature.job_definition: True,
            JobFeature.idempotency_token: False,
            JobFeature.tags: False,
            JobFeature.email_notifications: False,
            JobFeature.timeout_seconds: False,
            JobFeature.retry_on_timeout: False,
            JobFeature.max_retries: False,
            JobFeature.min_retry_interval_millis: False,
            JobFeature.output_filename_template: False,
            JobFeature.stop_job: True,
            JobFeature.delete_job: True,
        }

    def validate(self, input_path: str) -> bool:
        """True when the notebook names a kernel (jupyter-scheduler calls this on the
        class, passing the class as ``self``)."""
        import nbformat

        try:
            nb = nbformat.read(input_path, as_version=4)
        except Exception:  # not a notebook: the job cannot run it
            return False
        return bool(nb.metadata.get("kernelspec", {}).get("name"))


def _export(notebook: Path, fmt: str, target: str) -> None:
    """``notebook`` in another of nbconvert's formats (``pdf``, ``markdown``...)."""
    import nbconvert
    import nbformat

    body, _ = nbconvert.get_exporter(fmt)().from_notebook_node(
        nbformat.read(notebook, as_version=4))
    with open(target, "wb" if isinstance(body, bytes) else "w") as fh:
        fh.write(body)
