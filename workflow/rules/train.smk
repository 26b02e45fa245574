# Stage 5, train: one network per job, DDP over resources.tasks processes (torchrun locally,
# srun under Slurm). The trainer keeps its checkpoint in a folder that is not a Snakemake
# output (Snakemake empties outputs before running a job): a retried or requeued job finds
# it and resumes. The folder name carries a hash of the settings, so a changed setting
# starts afresh; a new data set removes them all (dataset.smk).


rule train:
    input:
        store="results/dataset/store.h5",
    output:
        directory("results/surrogate/{network}"),
    wildcard_constraints:
        network="inverse_pointwise|inverse_spatial|forward_spatial|forward",
    params:
        work=lambda wildcards: f"{TRAINING_DIR}/{TRAIN_KEY}",
        epochs=TRAIN["epochs"],
        # the U-Nets' samples are whole station grids (one per ground model), not stations
        batch_size=lambda wildcards: TRAIN["grid_batch_size" if wildcards.network in GRID_NETWORKS else "batch_size"],
        learning_rate=TRAIN["learning_rate"],
        patience=TRAIN["patience"],
        seed=TRAIN["seed"],
    threads: TRAIN["tasks"]  # one core per DDP process locally (see simulate.smk)
    resources:
        # Named `mpi` because the Slurm plugin then runs the command in the batch step
        # itself (not in a one-task srun step), where srun can start all the tasks.
        mpi=TRAIN["launcher"],
        tasks=TRAIN["tasks"],
        nodes=TRAIN["nodes"],
        gpu=TRAIN["gpus"],
        mem_mb_per_cpu=TRAIN["mem_mb_per_task"],
        runtime=TRAIN["runtime_min"],
    conda:
        "../envs/pipeline.yaml"
    log:
        "results/logs/train/{network}.log",
    benchmark:
        "results/benchmarks/train/{network}.tsv"
    shell:
        "workflow/scripts/ddp_launch.sh {resources.mpi} {resources.tasks} --"
        " python -m surrogate train --store {input.store} --task {wildcards.network} --out {params.work}"
        " --epochs {params.epochs} --batch-size {params.batch_size} --lr {params.learning_rate}"
        " --patience {params.patience} --seed {params.seed} > {log} 2>&1"
        " && rm -rf {output}.part && cp -r {params.work}/{wildcards.network} {output}.part"
        " && mv {output}.part {output}"
