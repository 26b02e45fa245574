# Stage 5, train: one network per job, DDP over resources.tasks processes (torchrun locally,
# srun under Slurm). The trainer keeps its checkpoint in a folder that is not a Snakemake
# output (Snakemake empties outputs before running a job): a retried or requeued job finds
# it and resumes. The folder name carries a hash of the settings, so a changed setting
# starts afresh; a new data set removes them all (dataset.smk).
#
# Stops, as in slurm/train_ddp.sbatch: SIGTERM (Slurm's preemption or time-limit signal, passed on
# by torchrun/srun) makes the trainer write its checkpoint and exit non-zero (surrogate.cli.UNFINISHED,
# 75; the launcher may turn it into its own non-zero status), as does --max-steps. The `&&` chain then
# stops before the copy: the output is never published from an unfinished network, Snakemake removes
# whatever of it exists and records the job as failed, and the checkpoint stays in {params.work}
# (not an output, so Snakemake leaves it alone). The retry (restart-times in slurm/profile) or the
# Slurm requeue (slurm-requeue) runs the same command, which resumes from the checkpoint; it must
# run with the same number of processes (resources.tasks): another number is refused with one line
# in the log (delete the checkpoint to start afresh).


rule train:
    input:
        store="results/dataset/store.h5",
    output:
        directory("results/surrogate/{network}"),
    wildcard_constraints:
        # TASK, or TASK.K: member K of a deep ensemble of seeds (train.members, common.smk)
        network=r"(inverse_pointwise|inverse_spatial|forward_spatial|forward)(\.[1-9][0-9]*)?",
    params:
        task=lambda wildcards: wildcards.network.split(".")[0],
        work=train_work_dir,
        epochs=TRAIN["epochs"],
        # the U-Nets' samples are whole station grids (one per ground model), not stations
        batch_size=lambda wildcards: TRAIN["grid_batch_size" if wildcards.network.split(".")[0] in GRID_NETWORKS
                                           else "batch_size"],
        learning_rate=TRAIN["learning_rate"],
        patience=TRAIN["patience"],
        seed=lambda wildcards: TRAIN["seed"] + member_index(wildcards),
    threads: TRAIN["tasks"]  # one core per DDP process locally (see simulate.smk)
    resources:
        # nodes x processes (one per GPU), cpus_per_task each, memory per node (common.smk).
        # `mpi` (the launcher; "" for one process) makes the Slurm plugin run the command in the
        # batch step itself (not in a one-task srun step), where srun can start all the tasks.
        **train_geometry(TRAIN, config["slurm"]["gpu_type"]),
        runtime=TRAIN["runtime_min"],
    conda:
        "../envs/pipeline.yaml"
    log:
        "results/logs/train/{network}.log",
    benchmark:
        "results/benchmarks/train/{network}.tsv"
    shell:
        "workflow/scripts/ddp_launch.sh {resources.mpi} {resources.tasks} --"
        " python -m surrogate train --store {input.store} --task {params.task} --out {params.work}"
        " --epochs {params.epochs} --batch-size {params.batch_size} --lr {params.learning_rate}"
        " --patience {params.patience} --seed {params.seed} > {log} 2>&1"
        # only a finished training (exit status 0) gets here
        " && rm -rf {output}.part && cp -r {params.work}/{params.task} {output}.part"
        " && mv {output}.part {output}"
