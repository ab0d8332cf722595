from jenkins_helpers.cli import main

main()
