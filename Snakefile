"""Seismic surrogate pipeline: ground models -> MPI FEM -> data set -> DDP training -> evaluation,
inversion and an HTML report. `snakemake --cores 2` runs the tiny default (config/config.yaml);
`snakemake --profile slurm/profile` submits the same rules to Slurm."""
from snakemake.utils import min_version, validate

min_version("8.0")


configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/mesh.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/dataset.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/select.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/invert.smk"
include: "workflow/rules/confirm.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        "results/report/index.html",
