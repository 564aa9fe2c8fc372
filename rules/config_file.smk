# Snakemake reads config.yaml next, and blames any YAML it cannot read on the indentation: say with
# the line what is wrong first (a !!python/object tag, a missing quote).
from amygdala_readout.config import check_config_file

check_config_file("config.yaml")
