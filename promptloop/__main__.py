from promptloop.cli.app import main

main()
