"""The REST API and web console over HTTP (`assistant serve`).

    app.py        `create_app`: the Flask app, its areas, metrics and CORS
    endpoints/    the endpoints, one blueprint per area (service, parse, speech, models)
    api.py        endpoint declarations -> validation and the OpenAPI document
    errors.py     every failure as JSON: the one mapping of errors to statuses
    schemas.py    every request and response body (shared with `assistant.client`)
    jobs.py       retraining in the background
    metrics.py    Prometheus
    serve.py      gunicorn (production) or Flask's development server

The model in service and its hot swap are `assistant.speech.service`, shared with the daemon.
"""
