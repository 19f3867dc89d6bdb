from aidbench.cli import main

main()
