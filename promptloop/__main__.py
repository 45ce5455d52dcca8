from integrations.cli.app import main

main()
