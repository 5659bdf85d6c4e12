import subprocess
import sys


def test_import_curation_does_not_import_streamlit():
    code = (
        "import sys, curation, curation.cli, curation.store, curation.ingest, curation.export, "
        "curation.llm.client, curation.llm.embedded\n"
        "assert 'streamlit' not in sys.modules, 'streamlit imported'\n"
        "assert 'llama_cpp' not in sys.modules, 'llama_cpp imported eagerly'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
