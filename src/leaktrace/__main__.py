from leaktrace.cli import main

raise SystemExit(main())
