"""admin stage."""
