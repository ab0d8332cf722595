from gitops_helper.cli import main

main()
