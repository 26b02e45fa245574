# Stage 8, report: one HTML page with the scores against the published marks, the plots,
# the inversion and its FEM confirmation, run times per stage (from the benchmark files) and provenance.
import yaml


rule run_config:
    output:
        "results/report/config.yaml",
    params:
        text=yaml.safe_dump(config, sort_keys=False),
    conda:
        "../envs/pipeline.yaml"
    log:
        "results/logs/report/config.log",
    benchmark:
        "results/benchmarks/report/config.tsv"
    run:
        # The validated configuration with its defaults filled in: what this run really used.
        with open(output[0], "w") as f:
            f.write(params.text)


rule report:
    input:
        metrics="results/evaluation/metrics.json",
        plots=expand("results/evaluation/{plot}", plot=EVALUATION_PLOTS),
        config="results/report/config.yaml",
        estimates=expand("results/inversion/{id}.h5", id=SETS["new"]),
        # The estimates' boundary errors (within tolerance, RMSE, max): the confirm stage scores
        # them once (surrogate.confirm.boundary_error), the report reads them from here.
        confirm=expand("results/confirm/{id}.json", id=SETS["new"]),
    output:
        "results/report/index.html",
    params:
        # Read as optional extras, not declared inputs: Snakemake writes each job's benchmark file
        # itself (no rule can declare one as an output), and the report shows whichever are there.
        benchmarks="results/benchmarks",
    conda:
        "../envs/pipeline.yaml"
    log:
        "results/logs/report/report.log",
    benchmark:
        "results/benchmarks/report/report.tsv"
    shell:
        "python workflow/scripts/report.py --metrics {input.metrics} --plots {input.plots}"
        " --benchmarks {params.benchmarks} --config {input.config} --estimates {input.estimates}"
        " --confirm {input.confirm} -o {output} > {log} 2>&1"
