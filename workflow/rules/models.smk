# Stage 1, models: one scenario file per ground model, drawn from the seeded distribution.
# With simulate.chunk K > 1, K consecutive models per job (one process draws them all: the
# interpreter's start, ~1 s, is most of a model's cost); a model's scenario is the same either
# way (its own random stream), and an override edits only its own model's text.

MODEL_PARAMS = {
    "distribution": json.dumps(config["scenarios"]["distribution"], sort_keys=True),
    "fixed_layers": "--fixed-layers" if config["scenarios"]["fixed_layers"] else "",
}

if CHUNK == 1:

    rule models:
        input:
            base=config["base_scenario"],
        output:
            "results/scenarios/{set}/{id}.yaml",
        params:
            seed=scenario_seed,
            index=scenario_index,
            override=scenario_override,
            **MODEL_PARAMS,
        conda:
            "../envs/pipeline.yaml"
        log:
            "results/logs/models/{set}/{id}.log",
        benchmark:
            "results/benchmarks/models/{set}/{id}.tsv"
        shell:
            "python workflow/scripts/scenario.py {input.base} --seed {params.seed} --index {params.index}"
            " {params.fixed_layers} --distribution {params.distribution:q} --override {params.override:q} -o {output} > {log} 2>&1"

else:
    # Snakemake rules have fixed output patterns, so a job of K files is a rule of its own,
    # models_chunk_FIRST_LAST (see simulate.smk).
    for set_name in SETS:
        for ids in chunks(set_name):

            rule:
                name:
                    f"models_chunk_{chunk_name(ids)}"
                input:
                    base=config["base_scenario"],
                output:
                    [f"results/scenarios/{set_name}/{i}.yaml" for i in ids],
                params:
                    seed=config["scenarios"][set_name]["seed"],
                    index=" ".join(str(int(i[1:])) for i in ids),
                    overrides=chunk_overrides(set_name, ids),
                    **MODEL_PARAMS,
                conda:
                    "../envs/pipeline.yaml"
                log:
                    f"results/logs/models/{set_name}/{chunk_name(ids)}.log",
                benchmark:
                    f"results/benchmarks/models/{set_name}/{chunk_name(ids)}.tsv"
                shell:
                    "python workflow/scripts/scenario.py {input.base} --seed {params.seed} --index {params.index}"
                    " {params.fixed_layers} --distribution {params.distribution:q} --overrides {params.overrides:q}"
                    " -o {output} > {log} 2>&1"
