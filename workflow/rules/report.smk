# Stage 8, report: one HTML page, in the order a person decides from it: the scores beside their
# baselines and the published marks, what to do next where one misses, the training curves, each new
# model's engine and FEM cost, the inversion and its FEM confirmation, run times per stage (from the
# benchmark files), provenance, and every metric last.
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
        # each trained network's model.npz: its per-epoch losses (the training curves)
        networks=expand("results/surrogate/{network}", network=TRAINED_NETWORKS),
        # the new models' observations: which engine produced each, and its FEM cost (dofs, wall time)
        simulations=expand("results/simulations/new/{id}.h5", id=SETS["new"]),
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
        # the fem logs: mean CG iterations per step (the result files do not record them), read likewise
        logs="results/logs",
    conda:
        "../envs/pipeline.yaml"
    log:
        "results/logs/report/report.log",
    benchmark:
        "results/benchmarks/report/report.tsv"
    shell:
        "python workflow/scripts/report.py --metrics {input.metrics} --plots {input.plots}"
        " --benchmarks {params.benchmarks} --config {input.config} --networks {input.networks}"
        " --simulations {input.simulations} --logs {params.logs} --estimates {input.estimates}"
        " --confirm {input.confirm} -o {output} > {log} 2>&1"
