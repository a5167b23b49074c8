"""The Experiment page's sections (app/views/experiment.py lays them out): tables, scene panels and the quick run."""
