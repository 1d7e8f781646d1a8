"""``python -m qtasks_cli``: the same as the ``qtasks`` command."""

from qtasks_cli.group import main

if __name__ == "__main__":
    main()
