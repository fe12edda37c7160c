"""The endpoints of the REST API, one module per area; `app.create_app` registers `AREAS`.

    service.py   the console and docs pages, the OpenAPI document, health, readiness, metrics
    parse.py     text to intent: /v1/parse, /v1/parse/batch, Rasa's /model/parse
    speech.py    speech to intent: /v1/recognize and its WebSocket for streamed audio
    models.py    the domain, the model versions, activation and retraining
"""

from assistant.server.endpoints import models, parse, service, speech

AREAS = [service.endpoints, parse.endpoints, speech.endpoints, models.endpoints]
