"""The REST API and web console over HTTP (`assistant serve`).

    app.py       the Flask app: endpoints, errors, CORS
    api.py       endpoint declarations -> validation and the OpenAPI document
    schemas.py   every request and response body (shared with `assistant.client`)
    service.py   the model in service and its hot swap
    stream.py    the WebSocket for streamed audio
    jobs.py      retraining in the background
    metrics.py   Prometheus
    serve.py     gunicorn (production) or Flask's development server
"""
