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
        config="results/report/config.yaml",
        estimates=expand("results/inversion/{id}.h5", id=SETS["new"]),
        scenarios=scenario_files("new"),
        confirm=expand("results/confirm/{id}.json", id=SETS["new"]),
    output:
        "results/report/index.html",
    params:
        tolerance=config["evaluate"]["tolerance_m"],
    conda:
        "../envs/pipeline.yaml"
    log:
        "results/logs/report/report.log",
    benchmark:
        "results/benchmarks/report/report.tsv"
    shell:
        "python workflow/scripts/report.py --metrics {input.metrics} --plots results/evaluation"
        " --benchmarks results/benchmarks --config {input.config} --estimates {input.estimates}"
        " --scenarios {input.scenarios} --confirm {input.confirm} --tolerance {params.tolerance} -o {output} > {log} 2>&1"
