import sys
from pathlib import Path

# The example is not installed: make `notes` importable when pytest runs from anywhere.
sys.path.insert(0, str(Path(__file__).parent))
