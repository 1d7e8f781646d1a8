"""``python -m qtasks_cli``: the same as the ``qtasks`` command."""

from qtasks_cli.main import main

if __name__ == "__main__":
    main()
