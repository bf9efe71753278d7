"""``python -m flowkit`` and the ``flowkit`` command: :func:`flowkit.cli.main`, imported inside
:func:`main` so that Ctrl-C while Python imports the command line (NumPy, OpenCV: a few tenths
of a second) is reported like one later, one line and exit status 130, not a traceback."""

import sys

__all__ = ["main"]


def main(argv=None):
    """Run the ``flowkit`` command (:func:`flowkit.cli.main`); returns its exit status."""
    try:
        from .cli import main as run
    except KeyboardInterrupt:
        print("flowkit: interrupted", file=sys.stderr)
        return 130
    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
