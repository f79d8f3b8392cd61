from panelmap.cli import main

main()
