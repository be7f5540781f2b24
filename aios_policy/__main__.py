from aios_policy.cli.main import main

main()
