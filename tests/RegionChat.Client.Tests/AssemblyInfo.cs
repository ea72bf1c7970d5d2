// One server for the whole run (its tiny model loads once); its single sequence makes "a cancelled answer freed it"
// observable, which needs the tests to run one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
