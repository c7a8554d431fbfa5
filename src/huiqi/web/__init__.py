"""HTTP: a thin FastAPI layer over the service layer (see :func:`huiqi.web.app.create_app`)."""
