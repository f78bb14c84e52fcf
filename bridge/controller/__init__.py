"""The controller: its parts (view, scheduler, reconciler, loops, event router) and their wiring."""
