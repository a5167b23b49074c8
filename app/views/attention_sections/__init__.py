"""The Attention page's sections (app/views/attention.py lays them out): the heat-map panels and the sanity check."""
