"""EfficientNet Scaling Lab: `streamlit run app/main.py`.

This file only sets up the pages; the scaling controls in the sidebar are shared by all of them.
"""

import os
import sys
from pathlib import Path

# Many sessions run torch at once on a few cores. OpenMP's default busy-waiting then makes each
# thread spin on cores the others need: 2-thread CPU latency of B0 measured 572 ms with it and 85 ms
# with passive waiting on this 2-core machine under load. Set before torch is first imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# `streamlit run app/main.py` puts app/ on sys.path, not the repository root that holds the `app` package.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app import requirements_check  # noqa: E402  (standard library only)

# A Python without the requirements gets one line saying what to run, not an import traceback.
try:
    import streamlit as st  # noqa: E402
except ModuleNotFoundError as error:
    sys.exit(requirements_check.missing_message([error.name or "streamlit"]))
from streamlit.runtime.scriptrunner import get_script_run_ctx  # noqa: E402

if get_script_run_ctx(suppress_warning=True) is None:  # `python app/main.py`: no Streamlit server
    sys.exit("app/main.py is a Streamlit app: start it with `bash scripts/lab` (or `streamlit run app/main.py`).")

st.set_page_config(page_title="EfficientNet Scaling Lab", page_icon=":material/science:", layout="wide")
missing = requirements_check.missing_modules()
if missing:
    st.error(requirements_check.missing_message(missing))
    st.stop()

from app.components import controls  # noqa: E402

PAGES = [
    st.Page("views/build.py", title="Build & profile", icon=":material/tune:", url_path="build", default=True),
    st.Page("views/attention.py", title="Attention (Grad-CAM)", icon=":material/visibility:", url_path="attention"),
    st.Page("views/experiment.py", title="Experiment", icon=":material/experiment:", url_path="experiment"),
    st.Page("views/learn.py", title="Learn", icon=":material/school:", url_path="learn"),
]
page = st.navigation(PAGES, position="top")
controls.scaling_sidebar()
page.run()
