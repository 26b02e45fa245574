# Stage 4, dataset: every FEM run of the data set in one training store, split by ground model.
# A new store makes the training checkpoints of the old one meaningless: they go too.


rule dataset:
    input:
        scenarios=scenario_files("data"),
        results=simulation_files("data"),
    output:
        "results/dataset/store.h5",
    params:
        seed=config["dataset"]["seed"],
        fractions=" ".join(str(f) for f in config["dataset"]["fractions"]),
        band="{} {} {:d}".format(*config["dataset"]["band"][:2], int(config["dataset"]["band"][2])),
        checkpoints=TRAINING_DIR,
    conda:
        "../envs/pipeline.yaml"
    log:
        "results/logs/dataset/dataset.log",
    benchmark:
        "results/benchmarks/dataset/dataset.tsv"
    shell:
        "rm -rf {params.checkpoints} && python -m surrogate dataset {input.results} --scenarios {input.scenarios}"
        " --fractions {params.fractions} --band {params.band} --seed {params.seed} -o {output} > {log} 2>&1"
