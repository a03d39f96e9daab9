import sys

from training.train_command import main

sys.exit(main())
