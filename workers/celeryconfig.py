"""Celery's configuration, read from the environment when Celery first needs it.

Importing this module validates every setting, so a worker with a broken environment stops
at start with the list of what is wrong.
"""

from workers.jobs import QUEUE, TASK_TIME_LIMIT
from workers.settings import get_settings

broker_url = result_backend = get_settings().redis_url
task_default_queue = QUEUE
task_serializer = result_serializer = "json"
accept_content = ["json"]
result_expires = 24 * 3600

# A task is acknowledged only once it has finished, and a worker that dies mid-task gives its
# task back: nothing is lost, so the task must be (and is) safe to run twice.
task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = 1
task_soft_time_limit = TASK_TIME_LIMIT - 30  # leaves time to complete the check run
task_time_limit = TASK_TIME_LIMIT
# An unacknowledged task goes back to the queue after this long: it must exceed any task's run.
broker_transport_options = {"visibility_timeout": 2 * TASK_TIME_LIMIT}
broker_connection_retry_on_startup = True
worker_hijack_root_logger = False
