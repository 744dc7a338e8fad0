"""Celery's configuration, read from the environment when Celery first needs it.

Importing this module validates every setting, so a worker with a broken environment stops
at start with the list of what is wrong.
"""

from appcore.settings import get_settings
from reviewers.github_core import QUEUE
from workers.store import SOCKET_TIMEOUT

_settings = get_settings()

broker_url = result_backend = _settings.celery_redis_url
task_default_queue = QUEUE
task_serializer = result_serializer = "json"
accept_content = ["json"]
result_expires = 24 * 3600

# A task is acknowledged only once it has finished, and a worker that dies mid-task gives its
# task back: nothing is lost, so the task must be (and is) safe to run twice.
task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = 1
task_time_limit = _settings.task_time_limit
task_soft_time_limit = task_time_limit * 0.75  # leaves time to complete the check run
# An unacknowledged task goes back to the queue after `visibility_timeout`: the task of a
# worker that died (SIGKILL, lost machine) runs again elsewhere (workers.redelivery looks
# for such tasks a few times per timeout).
broker_transport_options = {
    "visibility_timeout": _settings.redelivery_after,
    "socket_timeout": SOCKET_TIMEOUT,
    "socket_connect_timeout": SOCKET_TIMEOUT,
    "health_check_interval": 30,
}

# Redis going away (a restart, a fail-over) is waited out, however long it takes: the worker
# reconnects every few seconds, forever, and a review in flight goes on (workers.store), its
# result kept once Redis is back. Cancelling reviews on a lost connection would only run them
# again.
broker_connection_retry = True
broker_connection_retry_on_startup = True
broker_connection_max_retries = None
worker_cancel_long_running_tasks_on_connection_loss = False
result_backend_always_retry = True
result_backend_max_retries = 30
redis_socket_timeout = redis_socket_connect_timeout = SOCKET_TIMEOUT
redis_retry_on_timeout = True
redis_backend_health_check_interval = 30

worker_hijack_root_logger = False
