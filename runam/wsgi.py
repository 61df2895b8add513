import os
import sys

from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

# gunicorn's "worker failed to boot": it stops the server rather than respawn a worker that would fail the same way.
WORKER_BOOT_ERROR = 3

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "runam.settings")
try:
    application = get_wsgi_application()
except ImproperlyConfigured as error:
    # As in manage.py: the one line that names the variable to fix, not a traceback.
    print(f"error: {error}", file=sys.stderr)
    sys.exit(WORKER_BOOT_ERROR)
