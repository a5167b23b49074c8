"""The Build page's sections (app/views/build.py lays them out): each collects its inputs and draws; services/ computes."""
