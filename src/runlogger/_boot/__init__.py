"""Start-up hook for the Python processes a wrapped program starts (see ``sitecustomize``)."""
