# Stage 1, models: one scenario file per ground model, drawn from the seeded distribution.


rule models:
    input:
        base=config["base_scenario"],
    output:
        "results/scenarios/{set}/{id}.yaml",
    params:
        seed=scenario_seed,
        index=scenario_index,
        override=scenario_override,
        distribution=json.dumps(config["scenarios"]["distribution"], sort_keys=True),
        fixed_layers="--fixed-layers" if config["scenarios"]["fixed_layers"] else "",
    conda:
        "../envs/pipeline.yaml"
    log:
        "results/logs/models/{set}/{id}.log",
    benchmark:
        "results/benchmarks/models/{set}/{id}.tsv"
    shell:
        "python workflow/scripts/scenario.py {input.base} --seed {params.seed} --index {params.index}"
        " {params.fixed_layers} --distribution {params.distribution:q} --override {params.override:q} -o {output} > {log} 2>&1"
