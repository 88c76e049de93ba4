"""Microsoft Teams: the adapter (on Microsoft's Teams SDK) and its Adaptive Cards."""

import warnings

# The SDK announces preview features it has (none of which Errata uses) at import.
warnings.filterwarnings("ignore", message=".*is in preview and may change.*")
