"""sr-desktop: desktop super-resolution with EDSR, SRResNet and SRGAN models."""

__version__ = "0.1.0"
