from promptloop.cli.launcher import main

main()
