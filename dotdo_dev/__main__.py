from dotdo_dev.cli import main

main()
