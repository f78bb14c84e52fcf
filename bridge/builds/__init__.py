"""Build completion: a finished Build's image becomes the ImageStreamTag it was built for."""
