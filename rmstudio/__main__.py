from rmstudio.cli import main

raise SystemExit(main())
