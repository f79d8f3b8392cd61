if __name__ == "__main__":
    # Imported here, not above: the crawl's storage process is spawned and imports this module
    # again, and needs none of the command line.
    from panelmap.cli import main

    main()
