"""The commands of mmwsss (``console_scripts`` of setup.py), each a
``main(argv)`` function, runnable as ``python -m mmwsss.cli.<name>`` too
(what the distributed launchers use):

=========================  ==============================================
``mmwsss-pipeline``        :mod:`.pipeline`: every stage on a data folder
``mmwsss-gen-masks``       :mod:`.gen_sam_masks`: SAM quasi-superpixels
``mmwsss-eval-seeds``      :mod:`.eval_seeds`: score a seed folder
``mmwsss-compare-seeds``   :mod:`.compare_seeds`: several seed folders
``mmwsss-gpu-check``       :mod:`.gpu_check`: stages + benchmarks on a GPU
``mmwsss-train``           :mod:`.train`: mmseg's train.py, mmwsss loaded
``mmwsss-test``            :mod:`.test`: mmseg's test.py, mmwsss loaded
``mmwsss-report``          :mod:`mmwsss.cli.report`: HTML report
=========================  ==============================================

Every config argument may be an ``mmwsss::<folder>/<file>.py`` name (the
configs an installed mmwsss carries), an ``mmseg::`` name where mmseg's
tools take one, or a file. ``tools/*.py`` of a clone are thin wrappers
over these functions. This is the top floor: nothing in mmwsss imports it.
"""
