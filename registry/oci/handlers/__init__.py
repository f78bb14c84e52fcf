"""One small module of `/v2` handlers per resource; `routing` maps paths and methods onto them."""
