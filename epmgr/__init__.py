"""epmgr: lifecycle manager with cost control for Hugging Face dedicated Inference Endpoints."""

__version__ = "0.1.0"

__all__ = ["__version__"]
