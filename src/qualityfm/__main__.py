from qualityfm.cli import main

raise SystemExit(main())
